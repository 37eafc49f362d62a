import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../logger.ts';
import type { Releasers } from '../drill/releasers.ts';
import { Secret } from '../secret.ts';
import { SandboxError } from '../errors.ts';
import { clientConfig, describeConnection, withDatabase, type PostgresConnection } from '../engines/postgres/postgres-connection.ts';
import { findTools } from '../engines/postgres/postgres-tools.ts';
import { startLocalCluster, type StartedLocalCluster } from '../sandbox/local-cluster.ts';
import { sandboxUser } from '../sandbox/unix-user.ts';

/**
 * A throwaway source database for the demo and the tests: a local cluster on
 * 127.0.0.1 with password authentication (so the password really travels the
 * way a production one does), seeded with a small shop.
 */

export interface DemoSource {
  cluster: StartedLocalCluster;
  /** The seeded database, connected as the superuser with its password. */
  connection: PostgresConnection;
  password: Secret;
  /** `postgres://postgres@127.0.0.1:PORT/shop`, without the password. */
  url: string;
  stop(): Promise<void>;
}

export const DEMO_DATABASE = 'shop';

export async function startDemoSource(options: {
  logger: Logger;
  releasers?: Releasers;
  seed?: SeedSize;
  password?: string;
}): Promise<DemoSource> {
  const [server] = (await findTools('postgres')).slice(-1);
  if (!server) {
    throw new SandboxError('the demo needs PostgreSQL server binaries (postgres, initdb) and found none; install them, e.g. apt-get install postgresql');
  }
  const password = Secret.fromValue(options.password ?? randomBytes(18).toString('base64url'), 'demo source password');
  const cluster = await startLocalCluster({
    binDir: server.binDir,
    runAs: await sandboxUser(undefined),
    listen: 'tcp',
    superuserPassword: password,
    owner: { runId: 'demo-source', drill: 'demo' },
    logger: options.logger,
    releasers: options.releasers,
  });
  try {
    const admin = new pg.Client(clientConfig(cluster.connection('postgres')));
    await admin.connect();
    try {
      await admin.query(`create database ${DEMO_DATABASE}`);
    } finally {
      await admin.end();
    }
    const connection = withDatabase(cluster.connection(DEMO_DATABASE), DEMO_DATABASE);
    await seedShop(connection, options.seed ?? DEFAULT_SEED);
    return { cluster, connection, password, url: describeConnection(connection), stop: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

export interface SeedSize {
  customers: number;
  products: number;
  orders: number;
}

export const DEFAULT_SEED: SeedSize = { customers: 2_000, products: 200, orders: 5_000 };

/**
 * Tables with keys, foreign keys, checks and indexes; a view, a materialized
 * view, a function and a trigger; a role with grants: every kind of object the
 * fingerprint inventories. Orders spread over 30 days, the newest a few
 * minutes old, so the freshness check has something to measure.
 */
export async function seedShop(connection: PostgresConnection, size: SeedSize): Promise<void> {
  const client = new pg.Client(clientConfig(connection));
  await client.connect();
  try {
    await client.query(`
      do $$ begin
        if not exists (select 1 from pg_roles where rolname = 'shop_readonly') then create role shop_readonly nologin; end if;
      end $$;
      create table customers (
        id bigint generated always as identity primary key,
        email text not null unique,
        name text not null,
        created_at timestamptz not null
      );
      create table products (
        id serial primary key,
        sku text not null unique,
        title text not null,
        price_cents integer not null check (price_cents > 0)
      );
      create table orders (
        id bigint generated always as identity primary key,
        customer_id bigint not null references customers (id),
        status text not null default 'paid' check (status in ('paid', 'shipped', 'refunded')),
        created_at timestamptz not null,
        updated_at timestamptz not null default now()
      );
      create table order_items (
        order_id bigint not null references orders (id) on delete cascade,
        product_id integer not null references products (id),
        quantity integer not null check (quantity > 0),
        primary key (order_id, product_id)
      );
      create index orders_customer_created_idx on orders (customer_id, created_at);
      create view daily_revenue as
        select date_trunc('day', o.created_at) as day, sum(i.quantity * p.price_cents) as revenue_cents
        from orders o join order_items i on i.order_id = o.id join products p on p.id = i.product_id group by 1;
      create function touch_updated_at() returns trigger language plpgsql as
        $fn$ begin new.updated_at := now(); return new; end $fn$;
      create trigger orders_touch_updated_at before update on orders for each row execute function touch_updated_at();
      grant select on all tables in schema public to shop_readonly;
    `);
    await client.query(
      `insert into customers (email, name, created_at)
       select 'customer' || g || '@example.com', 'Customer ' || g, now() - make_interval(days => 60 - g % 60)
       from generate_series(1, $1::int) g`,
      [size.customers],
    );
    await client.query(
      `insert into products (sku, title, price_cents)
       select 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, 100 + (g * 37) % 9900
       from generate_series(1, $1::int) g`,
      [size.products],
    );
    await client.query(
      `insert into orders (customer_id, status, created_at)
       select 1 + g % $2::int, (array['paid', 'shipped', 'refunded'])[1 + g % 3],
              now() - interval '5 minutes' - make_interval(mins => ((($1::bigint - g) * 43200) / $1::int)::int)
       from generate_series(1, $1::int) g`,
      [size.orders, size.customers],
    );
    await client.query(
      `insert into order_items (order_id, product_id, quantity)
       select o.id, 1 + (o.id * 7 + k * 13) % $1::int, 1 + k
       from orders o cross join generate_series(0, 2) k where k <= o.id % 3`,
      [size.products],
    );
    await client.query(`
      create materialized view customer_totals as select customer_id, count(*) as orders from orders group by customer_id;
      analyze;
    `);
  } finally {
    await client.end();
  }
}
