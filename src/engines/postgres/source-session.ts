import type pg from 'pg';

/**
 * Settings for firedrill's own sessions on the source. A role or database may
 * carry a statement_timeout, idle_in_transaction_session_timeout or (17+)
 * transaction_timeout meant for applications: the control session sits idle
 * in its transaction while pg_dump runs, and a count may take long. pg_dump
 * turns these off for itself; firedrill does the same. Waiting for a lock is
 * bounded by backup.lockWaitTimeout instead. Parallel query is off, so that
 * firedrill's load on the source is the sessions it opens, nothing more.
 */
export async function prepareSourceSession(client: pg.Client, options: { lockWaitTimeoutMs: number }): Promise<void> {
  // The SET itself runs under the inherited timeout: one of a few milliseconds can cancel it on a busy server.
  // Startup options would avoid that, but connection poolers such as PgBouncer reject them.
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query('set statement_timeout = 0');
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== '57014' || attempt >= 5) throw error;
    }
  }
  await client.query('set idle_in_transaction_session_timeout = 0');
  // transaction_timeout exists from PostgreSQL 17 on; set_config on an unknown name would fail.
  await client.query(`select set_config('transaction_timeout', '0', false) where current_setting('server_version_num')::int >= 170000`);
  await client.query(`set lock_timeout = ${options.lockWaitTimeoutMs}`);
  // No parallel workers: a count would otherwise take up to max_parallel_workers_per_gather more processes on a
  // production server, competing with its applications and with pg_dump. backup.jobs is the parallelism firedrill asks for.
  await client.query('set max_parallel_workers_per_gather = 0');
}
