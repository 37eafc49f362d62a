import { formatTime, renderTable, type Output } from '../output.ts';
import { UsageError } from '../../errors.ts';
import { dockerClient, judgeLeftovers, listFiredrillContainers, removeContainer, type FiredrillContainer } from '../../docker/docker-client.ts';
import { EXIT } from '../exit-codes.ts';

/**
 * `firedrill sandbox ls` and `firedrill sandbox rm <id...>|--all`: the
 * containers firedrill started (sandboxes, and pg_dump containers of running
 * backups), found by their labels on the Docker engine.
 */

export async function sandboxListCommand(flags: { json?: boolean }, output: Output): Promise<number> {
  const containers = await listFiredrillContainers(await dockerClient());
  const decisions = await judgeLeftovers(containers, { olderThanMs: Number.POSITIVE_INFINITY });
  const statuses = new Map(decisions.map(({ container, remove }) => [container, container.kept ? 'kept' : remove ? 'leftover' : 'in use']));
  const statusOf = (container: FiredrillContainer) => statuses.get(container) as string;
  if (flags.json) {
    output.out(
      JSON.stringify(
        containers.map((container) => ({
          id: container.id,
          role: container.role,
          drill: container.drill,
          runId: container.runId,
          createdAt: container.createdAt.toISOString(),
          image: container.image,
          state: container.state,
          status: statusOf(container),
          address: container.ports[5432] ?? null,
        })),
        null,
        2,
      ),
    );
    return EXIT.PASSED;
  }
  if (containers.length === 0) {
    output.out('no firedrill containers on this Docker engine');
    return EXIT.PASSED;
  }
  const rows = containers.map((container) => [
    container.id,
    container.drill,
    container.role,
    formatTime(container.createdAt),
    container.image,
    container.ports[5432] ?? '-',
    `${statusOf(container)} (${container.state})`,
  ]);
  output.out(renderTable(['ID', 'DRILL', 'ROLE', 'CREATED', 'IMAGE', 'ADDRESS', 'STATUS'], rows));
  return EXIT.PASSED;
}

export async function sandboxRemoveCommand(ids: string[], flags: { all?: boolean }, output: Output): Promise<number> {
  if (flags.all && ids.length > 0) throw new UsageError('give sandbox ids or --all, not both');
  if (!flags.all && ids.length === 0) throw new UsageError('name the sandbox(es) to remove (see firedrill sandbox ls), or use --all');
  const client = await dockerClient();
  const containers = await listFiredrillContainers(client);
  let targets: FiredrillContainer[];
  if (flags.all) {
    // --all takes kept sandboxes and leftovers, and spares containers that may be in use: removing them would fail those drills.
    targets = [];
    for (const { container, remove, reason } of await judgeLeftovers(containers, { olderThanMs: Number.POSITIVE_INFINITY })) {
      if (container.kept || remove) targets.push(container);
      else output.err(`firedrill: left ${container.id} alone: ${reason}; name it to remove it anyway`);
    }
  } else {
    // Every id is checked before anything is removed: a typo among several removes nothing.
    const problems: string[] = [];
    targets = [];
    for (const id of ids) {
      const matches = containers.filter((container) => container.id.startsWith(id) || container.name === id);
      if (matches.length === 1) targets.push(matches[0] as FiredrillContainer);
      else if (matches.length === 0) problems.push(`no firedrill container ${id} on this Docker engine`);
      else problems.push(`${id} matches ${matches.length} containers (${matches.map((match) => match.id).join(', ')}); give more of the id`);
    }
    if (problems.length > 0) throw new UsageError(`${problems.join('; ')}. Nothing was removed (see firedrill sandbox ls)`);
  }
  for (const container of targets) {
    await removeContainer(client, container.id);
    output.out(`removed ${container.id} (${container.role} of drill ${container.drill}, run ${container.runId})`);
  }
  if (targets.length === 0) output.out('nothing to remove');
  return EXIT.PASSED;
}
