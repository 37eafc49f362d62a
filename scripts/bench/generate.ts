/**
 * A realistic database of about a requested size, generated on the server
 * (`insert ... select ... from generate_series`, in chunks spread over a few
 * parallel sessions).
 *
 * Six tables with foreign keys: customers, products, orders, order_lines,
 * events (jsonb payloads, a GIN index) and documents (long text bodies and a
 * bytea attachment). Text is made of words from a vocabulary of ~400 with a
 * skewed (Zipf-like) frequency, not one repeated filler: short texts pick
 * words or slice a 1 MiB pool of prose (both passed as query parameters);
 * document bodies slice a 48 MiB corpus of such prose (a bytea column stored
 * uncompressed, so that a slice reads only its own TOAST chunks), far more
 * than zstd's window, so that they compress like prose does. Numerics,
 * timestamps over two years, inet, md5 and sha256 digests for ids and for
 * binary data that does not compress. Keys, secondary indexes (btree on text
 * and timestamps, GIN on jsonb) and foreign keys are created after the load,
 * as a restore does; then VACUUM (FREEZE, ANALYZE), so that no reader
 * (pg_dump) pays for setting hint bits first. About 25 s per GiB on 2 cores.
 */
import pg from 'pg';

export interface GeneratedDatabase {
  databaseBytes: number;
  rows: Record<string, number>;
  seconds: { corpus: number; load: number; indexes: number; constraints: number; vacuum: number; total: number };
}

/**
 * Rows per MiB of target size, indexes included, measured with PostgreSQL 15 (1 and 4 GiB come out within 1%).
 * An empty database and the products are about 10 MiB whatever the size.
 */
const ROWS_PER_MIB = { customers: 170, orders: 553, events: 468, documents: 260 };
const FIXED_MIB = 10;
const PRODUCTS = 5_000;
/** Document bodies are slices of six rows of 8 MiB of prose: far more than zstd's window, so they compress like prose, not like repeats. */
const CORPUS_ROWS = 6;
const CORPUS_ROW_BYTES = 8 * 1024 * 1024;

const WORDS = `the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were
their one all we can her has there been if more when will would who so no time people year way day man thing woman life child world school
state family student group country problem hand part place case week company system program question work government number night point
home water room mother area money story fact month lot right study book eye job word business issue side kind head house service friend father
power hour game line end member law car city community name president team minute idea kid body information back parent face others level
office door health person art war history party result change morning reason research girl guy moment air teacher force education order
shipment invoice payment refund delivery warehouse customer product price discount coupon basket checkout account address postcode courier
parcel label return exchange warranty review rating stock supplier catalogue category brand model colour size weight material cotton leather
steel wooden glass ceramic organic vintage premium budget compact portable wireless digital manual automatic electric rechargeable waterproof
quickly slowly carefully immediately usually often rarely never always soon later today tomorrow yesterday early late again already still
red blue green black white yellow orange purple grey silver golden bright dark light heavy small large tiny huge new old young fresh
good bad great little big high low different important public private social national local federal international economic political
run walk ship send receive open close start stop build break buy sell pay give take make find know think tell become leave feel bring
begin keep hold write stand hear let mean set meet include continue learn understand follow create speak read allow add spend grow offer
remember love consider appear wait serve die expect stay fall cut reach kill remain suggest raise pass report decide pull explain hope develop
carry drive return agree support hit produce eat cover catch draw choose cause point listen realize place close involve increase ask show try
call need seem turn move live believe happen provide sit lose understand pack track confirm cancel dispatch restock audit reconcile export
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september october november december
london paris berlin madrid rome vienna prague warsaw lisbon dublin oslo stockholm helsinki copenhagen amsterdam brussels zurich geneva athens`
  .split(/\s+/)
  .filter(Boolean);

const COUNTRIES = ['DE', 'FR', 'GB', 'US', 'ES', 'IT', 'NL', 'PL', 'SE', 'PT', 'AT', 'CH', 'BE', 'IE', 'DK', 'NO', 'FI', 'CZ', 'GR', 'CA'];

const sqlArray = (values: string[]) => `array[${values.map((value) => `'${value.replaceAll("'", "''")}'`).join(',')}]::text[]`;

/**
 * Every statement gets two parameters: $1, the vocabulary as 16-byte slots
 * (slicing bytea is constant-time, where indexing a text array walks it), and
 * $2, a pool of prose made of those words, sliced for phrases of any length.
 */
const SLOT = 16;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** One word, the first ones of the vocabulary the most common (a skewed, Zipf-like frequency). */
const word = () => `rtrim(convert_from(substr($1::bytea, 1 + ${SLOT} * floor(${WORDS.length} * random() * random())::int, ${SLOT}), 'UTF8'))`;

/** About `length` characters of prose, starting and ending on a whole word. */
const phrase = (length: string) =>
  `btrim(rtrim(ltrim(convert_from(substr($2::bytea, 1 + floor(random() * (octet_length($2::bytea) - 4096))::int, ${length}), 'UTF8'), '${LETTERS}'), '${LETTERS}'))`;

/** Prose with the vocabulary's skewed frequency and some punctuation, as Node generates it (fast, and seeded by nothing: every run differs). */
function prose(bytes: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const r = Math.random();
    let next = WORDS[Math.floor(WORDS.length * r * r)] as string;
    const p = Math.random();
    if (p < 0.07) next += '.';
    else if (p < 0.11) next += ',';
    parts.push(next);
    length += next.length + 1;
  }
  return Buffer.from(parts.join(' '), 'utf8');
}

const vocabulary = () => Buffer.from(WORDS.map((entry) => entry.padEnd(SLOT, ' ')).join(''), 'utf8');

const SCHEMA = `
  create table corpus (id int primary key, body bytea not null);
  alter table corpus alter column body set storage external;
  create table customers (
    id bigint not null, email text not null, full_name text not null, country char(2) not null,
    signup_at timestamptz not null, balance numeric(12,2) not null, marketing_opt_in boolean not null, profile jsonb not null);
  create table products (
    id int not null, sku text not null, title text not null, description text not null,
    price numeric(10,2) not null, weight_grams int not null, attributes jsonb not null);
  create table orders (
    id bigint not null, customer_id bigint not null, status text not null, ordered_at timestamptz not null,
    shipped_at timestamptz, total numeric(12,2) not null, currency char(3) not null, shipping_address text not null, note text);
  create table order_lines (
    order_id bigint not null, line smallint not null, product_id int not null, quantity int not null,
    unit_price numeric(10,2) not null, discount numeric(4,2) not null);
  create table events (
    id bigint not null, customer_id bigint, occurred_at timestamptz not null, kind text not null, source_ip inet not null, payload jsonb not null);
  create table documents (
    id bigint not null, customer_id bigint not null, title text not null, body text not null, attachment bytea not null,
    created_at timestamptz not null, updated_at timestamptz not null);
`;

/** One chunk of rows [low, high] of a table: a statement of its own, so chunks load in parallel sessions. */
function insertChunk(table: string, low: number, high: number, counts: Record<string, number>): string {
  const range = `generate_series(${low}, ${high}) g`;
  const ts = (days: number) => `timestamptz '2023-01-01 00:00:00+00' + random() * interval '${days} days'`;
  switch (table) {
    case 'customers':
      return `insert into customers select g,
          ${word()} || '.' || ${word()} || g || '@' || (array['example.com','mail.test','post.example','inbox.test'])[1 + g % 4],
          initcap(${word()}) || ' ' || initcap(${word()}) || ' ' || initcap(substr(md5(g::text), 1, 6)),
          (${sqlArray(COUNTRIES)})[1 + floor(random() * ${COUNTRIES.length})::int],
          ${ts(730)}, round((random() * 5000 - 500)::numeric, 2), random() < 0.4,
          jsonb_build_object('language', (array['en','de','fr','es','it'])[1 + g % 5], 'newsletter', random() < 0.3,
            'interests', jsonb_build_array(${word()}, ${word()}, ${word()}),
            'phone', '+' || (10 + g % 89) || ' ' || lpad((g::bigint * 7919 % 1000000000)::text, 9, '0'),
            'bio', ${phrase('30 + g % 90')}, 'score', round((random() * 100)::numeric, 1))
        from ${range}`;
    case 'products':
      return `insert into products select g, 'SKU-' || lpad(g::text, 7, '0') || '-' || upper(substr(md5(g::text), 1, 4)),
          initcap(${word()}) || ' ' || ${word()} || ' ' || ${word()},
          ${phrase('120 + g % 400')}, round((1 + random() * 499)::numeric, 2), 10 + (g * 37) % 20000,
          jsonb_build_object('colour', ${word()}, 'material', ${word()}, 'tags', jsonb_build_array(${word()}, ${word()}),
            'dimensions', jsonb_build_object('w', g % 90 + 1, 'h', g % 70 + 1, 'd', g % 50 + 1))
        from ${range}`;
    case 'orders':
      return `insert into orders select g, 1 + floor(random() * ${counts.customers})::bigint,
          (array['pending','paid','shipped','delivered','refunded','cancelled'])[1 + floor(random() * 6)::int],
          t, case when random() < 0.7 then t + random() * interval '5 days' end,
          round((5 + random() * 995)::numeric, 2), (array['EUR','USD','GBP','SEK','PLN'])[1 + g % 5],
          (1 + g % 250) || ' ' || initcap(${word()}) || ' street, ' || (10000 + (g * 31) % 89999) || ' ' || initcap(${word()}),
          case when random() < 0.3 then ${phrase('20 + g % 100')} end
        from (select g, ${ts(730)} as t from ${range}) s`;
    case 'order_lines':
      return `insert into order_lines select o, k, 1 + floor(random() * ${PRODUCTS})::int, 1 + floor(random() * random() * 12)::int,
          round((1 + random() * 299)::numeric, 2), (array[0,0,0,5,10,15,25])[1 + floor(random() * 7)::int]
        from generate_series(${low}, ${high}) o cross join lateral generate_series(1, 1 + (hashint8(o) & 3)) k`;
    case 'events':
      return `insert into events select g, case when random() < 0.9 then 1 + floor(random() * ${counts.customers})::bigint end,
          ${ts(730)}, (array['page_view','search','add_to_cart','checkout','login','logout','review','support_ticket'])[1 + floor(8 * random() * random())::int],
          ('10.' || (g % 256) || '.' || ((g / 256) % 256) || '.' || (hashint8(g) & 255))::inet,
          jsonb_build_object('session', md5(g::text || 's'), 'path', '/' || ${word()} || '/' || ${word()},
            'query', case when random() < 0.4 then ${phrase('8 + g % 30')} end, 'referrer', (array['direct','search','mail','social'])[1 + g % 4],
            'ua', (array['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Windows NT 10.0; Win64; x64)','Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)'])[1 + g % 3],
            'items', jsonb_build_array(jsonb_build_object('product', 1 + g % ${PRODUCTS}, 'qty', 1 + g % 4), jsonb_build_object('product', 1 + (g * 13) % ${PRODUCTS}, 'qty', 1)),
            'amount', round((random() * 400)::numeric, 2), 'tags', jsonb_build_array(${word()}, ${word()}))
        from ${range}`;
    case 'documents':
      // A body is a slice of the corpus (300 to 4,000 characters: the longer ones are TOASTed and compressed,
      // as real documents are); the attachment is 64 to 512 bytes of digests, which do not compress.
      return `insert into documents select g, 1 + floor(random() * ${counts.customers})::bigint,
          initcap(${word()}) || ' ' || ${word()} || ' ' || ${word()} || ' ' || ${word()} || ' #' || g,
          convert_from(substr(c.body, 1 + floor(random() * (octet_length(c.body) - 5000))::int, 300 + floor(random() * random() * 3700)::int), 'UTF8'),
          substr(sha256(int8send(g)) || sha256(int8send(-g)) || sha256(int8send(g * 3)) || sha256(int8send(g * 5)) || sha256(int8send(g * 7))
            || sha256(int8send(g * 11)) || sha256(int8send(g * 13)) || sha256(int8send(g * 17)) || sha256(int8send(g * 19)) || sha256(int8send(g * 23))
            || sha256(int8send(g * 29)) || sha256(int8send(g * 31)) || sha256(int8send(g * 37)) || sha256(int8send(g * 41)) || sha256(int8send(g * 43))
            || sha256(int8send(g * 47)), 1, 64 + (hashint8(g) & 448)::int),
          t, t + random() * interval '90 days'
        from (select g, ${ts(700)} as t from ${range}) s cross join corpus c where c.id = 1 + g % ${CORPUS_ROWS}`;
    default:
      throw new Error(`no generator for ${table}`);
  }
}

const INDEXES = [
  'alter table customers add primary key (id)',
  'alter table products add primary key (id)',
  'alter table orders add primary key (id)',
  'alter table order_lines add primary key (order_id, line)',
  'alter table events add primary key (id)',
  'alter table documents add primary key (id)',
  'create unique index customers_email_idx on customers (email)',
  'create unique index products_sku_idx on products (sku)',
  'create index orders_customer_ordered_idx on orders (customer_id, ordered_at)',
  'create index orders_ordered_at_idx on orders (ordered_at)',
  'create index order_lines_product_idx on order_lines (product_id)',
  'create index events_occurred_at_idx on events (occurred_at)',
  'create index events_customer_idx on events (customer_id)',
  'create index events_payload_idx on events using gin (payload jsonb_path_ops)',
  'create index documents_title_idx on documents (title)',
  'create index documents_customer_idx on documents (customer_id, created_at)',
];

const FOREIGN_KEYS = [
  'alter table orders add constraint orders_customer_fk foreign key (customer_id) references customers (id)',
  'alter table order_lines add constraint order_lines_order_fk foreign key (order_id) references orders (id) on delete cascade',
  'alter table order_lines add constraint order_lines_product_fk foreign key (product_id) references products (id)',
  'alter table events add constraint events_customer_fk foreign key (customer_id) references customers (id)',
  'alter table documents add constraint documents_customer_fk foreign key (customer_id) references customers (id)',
];

/**
 * A client whose connection may be ended by the server (a cluster stopped on Ctrl-C) without an unhandled
 * 'error' event: a query that was running still fails, with that error.
 */
export function newClient(config: pg.ClientConfig): pg.Client {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  return client;
}

/** Runs statements in order in `sessions` parallel connections, each its own client. */
async function inParallel(
  config: pg.ClientConfig,
  statements: string[],
  sessions: number,
  options: { setup?: string; values?: Buffer[]; onDone?: () => void } = {},
): Promise<void> {
  const queue = [...statements];
  // A statement is given as many of the values as it uses ($1, $2): PostgreSQL refuses extra ones.
  const valuesFor = (statement: string) => (options.values ?? []).filter((_, index) => statement.includes(`$${index + 1}`));
  const worker = async () => {
    const client = newClient(config);
    await client.connect();
    try {
      if (options.setup) await client.query(options.setup);
      for (let statement = queue.shift(); statement !== undefined; statement = queue.shift()) {
        await client.query(statement, valuesFor(statement));
        options.onDone?.();
      }
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: Math.min(sessions, statements.length) }, worker));
}

/** Splits [1, count] into chunks of at most `size` rows. */
function chunks(table: string, count: number, size: number, counts: Record<string, number>): string[] {
  const statements: string[] = [];
  for (let low = 1; low <= count; low += size) statements.push(insertChunk(table, low, Math.min(count, low + size - 1), counts));
  return statements;
}

export async function generateDatabase(
  config: pg.ClientConfig,
  sizeMb: number,
  options: { sessions: number; progress: (message: string) => void },
): Promise<GeneratedDatabase> {
  const started = performance.now();
  const scaled = Math.max(sizeMb - FIXED_MIB, sizeMb / 2);
  const rows: Record<string, number> = {
    customers: Math.max(100, Math.round(ROWS_PER_MIB.customers * scaled)),
    products: PRODUCTS,
    orders: Math.max(100, Math.round(ROWS_PER_MIB.orders * scaled)),
    events: Math.max(100, Math.round(ROWS_PER_MIB.events * scaled)),
    documents: Math.max(100, Math.round(ROWS_PER_MIB.documents * scaled)),
  };
  const admin = newClient(config);
  await admin.connect();
  try {
    await admin.query(SCHEMA);
    for (let id = 1; id <= CORPUS_ROWS; id++) await admin.query('insert into corpus values ($1, $2)', [id, prose(CORPUS_ROW_BYTES)]);
    const values = [vocabulary(), prose(1024 * 1024)];
    const corpusDone = performance.now();

    // Chunks of about 1/16 of a table, so the sessions share the work evenly and finish together.
    const statements = [
      ...chunks('documents', rows.documents!, Math.ceil(rows.documents! / 16), rows),
      ...chunks('events', rows.events!, Math.ceil(rows.events! / 16), rows),
      ...chunks('orders', rows.orders!, Math.ceil(rows.orders! / 16), rows),
      ...chunks('order_lines', rows.orders!, Math.ceil(rows.orders! / 16), rows),
      ...chunks('customers', rows.customers!, Math.ceil(rows.customers! / 8), rows),
      ...chunks('products', PRODUCTS, PRODUCTS, rows),
    ];
    let done = 0;
    const tick = setInterval(() => options.progress(`  loading: ${done}/${statements.length} chunks`), 15_000);
    try {
      await inParallel(config, statements, options.sessions, { setup: 'set synchronous_commit = off', values, onDone: () => done++ });
    } finally {
      clearInterval(tick);
    }
    const loaded = performance.now();
    options.progress(`  loaded in ${((loaded - started) / 1000).toFixed(1)} s; building keys and indexes`);
    await inParallel(config, INDEXES, options.sessions, { setup: "set maintenance_work_mem = '1GB'; set max_parallel_maintenance_workers = 0" });
    const indexed = performance.now();
    await inParallel(config, FOREIGN_KEYS, options.sessions);
    const constrained = performance.now();
    await admin.query('drop table corpus');
    await inParallel(config, ['customers', 'products', 'orders', 'order_lines', 'events', 'documents'].map((table) => `vacuum (freeze, analyze) ${table}`), options.sessions);
    await admin.query('checkpoint');
    const vacuumed = performance.now();
    rows.order_lines = Number((await admin.query<{ n: string }>('select count(*) as n from order_lines')).rows[0]?.n);
    const databaseBytes = Number((await admin.query<{ size: string }>('select pg_database_size(current_database()) as size')).rows[0]?.size);
    const seconds = (from: number, to: number) => Math.round((to - from) / 10) / 100;
    return {
      databaseBytes,
      rows,
      seconds: {
        corpus: seconds(started, corpusDone),
        load: seconds(corpusDone, loaded),
        indexes: seconds(loaded, indexed),
        constraints: seconds(indexed, constrained),
        vacuum: seconds(constrained, vacuumed),
        total: seconds(started, vacuumed),
      },
    };
  } finally {
    await admin.end();
  }
}
