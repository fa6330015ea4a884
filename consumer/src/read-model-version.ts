import type pg from 'pg';

/** The read model version queries are served from (the one the live projector writes). */
export async function liveReadModelVersion(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM live_read_model');
  const row = rows[0];
  if (!row) throw new Error('live_read_model is empty: run the migrations first');
  return row.version;
}
