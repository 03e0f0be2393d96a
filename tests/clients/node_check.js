const { Client } = require('pg');
(async () => {
  const c = new Client({ host: '127.0.0.1', port: Number(process.argv[2].split(":")[1]), user: 'node', database: 'db' });
  await c.connect();
  await c.query('CREATE TABLE nt (id int primary key, name text, amount numeric(10,2), at timestamptz, ok boolean, data jsonb)');
  await c.query('INSERT INTO nt VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING', [1, 'a', '12.50', new Date('2026-01-01T00:00:00Z'), true, {k: 1}]);
  const r = await c.query('SELECT * FROM nt WHERE id = $1', [1]);
  const want = '[{"id":1,"name":"a","amount":"12.50","at":"2026-01-01T00:00:00.000Z","ok":true,"data":{"k":1}}]';
  if (JSON.stringify(r.rows) !== want) throw new Error('rows ' + JSON.stringify(r.rows));
  let failed = false;
  try { await c.query('SELECT * FROM nope'); } catch (e) { if (e.code !== '42P01') throw e; failed = true; }
  if (!failed) throw new Error('a query of a missing table succeeded');
  const r2 = await c.query({ text: 'SELECT generate_series(1, $1::int) AS g', values: [3], rowMode: 'array' });
  if (JSON.stringify(r2.rows) !== '[[1],[2],[3]]') throw new Error('srf ' + JSON.stringify(r2.rows));
  console.log('node ok');
  await c.end();
})().catch(e => { console.error('FAIL', e); process.exit(1); });
