-- The sample source of the docker compose example: a small shop (customers, products, orders),
-- run once by the postgres image's entrypoint when the compose service "source" first starts
-- with an empty volume (/docker-entrypoint-initdb.d). Tables with keys, foreign keys, checks
-- and indexes, a view, a materialized view, a function and a trigger: every kind of object
-- firedrill's fingerprint check compares.

create role shop_readonly nologin;

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
  from orders o
  join order_items i on i.order_id = o.id
  join products p on p.id = i.product_id
  group by 1;

create function touch_updated_at() returns trigger language plpgsql as
  $$ begin new.updated_at := now(); return new; end $$;
create trigger orders_touch_updated_at before update on orders
  for each row execute function touch_updated_at();

grant select on all tables in schema public to shop_readonly;

insert into customers (email, name, created_at)
  select 'customer' || g || '@example.com', 'Customer ' || g, now() - make_interval(days => 60 - g % 60)
  from generate_series(1, 2000) g;

insert into products (sku, title, price_cents)
  select 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, 100 + (g * 37) % 9900
  from generate_series(1, 200) g;

-- 5,000 orders over the last 30 days
insert into orders (customer_id, status, created_at)
  select 1 + g % 2000, (array['paid', 'shipped', 'refunded'])[1 + g % 3],
         now() - make_interval(mins => (5000 - g) * 43200 / 5000)
  from generate_series(1, 5000) g;

insert into order_items (order_id, product_id, quantity)
  select o.id, 1 + (o.id * 7 + k * 13) % 200, 1 + k
  from orders o cross join generate_series(0, 2) k
  where k <= o.id % 3;

create materialized view customer_totals as
  select customer_id, count(*) as orders from orders group by customer_id;

analyze;
