-- The import task list (shared/specs/business.md X-05, X-06, G4-27): one row per uploaded file.
-- * `import_tasks`: kind, the uploader's tenant (`platform` for platform staff), file name and
--   SHA-256, the upload's own fields (`params`, e.g. a settlement's factory/period/total), the
--   sheet's header (for the failure file), status `running` → `done` | `failed` (the apply
--   step broke: the chunks applied before stay applied), or `rejected` (refused as a whole,
--   `error` says why); counts and `rows_done` (progress); `result` is the kind's summary.
--   X-06: a `running`/`done` task of the same (kind, tenant, sha256) created within 24 h is
--   returned instead of a new one (store/imports.py, under an advisory lock). `natural_key`:
--   what the kind allows once (a settlement's `factory_id/period`).
-- * `import_task_rows`: the failed rows only (the failure file): their original cells and 失败原因.
-- depends: 0100_commission

CREATE TABLE import_tasks (
    task_id      text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z_]{0,63}$'),
    tenant       text NOT NULL,
    file_name    text NOT NULL,
    file_sha256  text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    params       jsonb NOT NULL DEFAULT '{}',
    header       text[] NOT NULL DEFAULT '{}',
    status       text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'rejected')),
    rows_total   integer NOT NULL DEFAULT 0 CHECK (rows_total >= 0),
    rows_done    integer NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    rows_ok      integer NOT NULL DEFAULT 0 CHECK (rows_ok >= 0),
    rows_failed  integer NOT NULL DEFAULT 0 CHECK (rows_failed >= 0),
    error        jsonb,
    result       jsonb NOT NULL DEFAULT '{}',
    created_by   text NOT NULL,
    created_role text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT cp_now(),
    finished_at  timestamptz,
    natural_key  text,
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK (status NOT IN ('rejected', 'failed') OR error IS NOT NULL)
);

-- A kind's own key (a settlement's factory and period, H-36): one live task per key; a task
-- that failed or was rejected frees it.
CREATE UNIQUE INDEX import_tasks_natural_key ON import_tasks (kind, natural_key)
    WHERE natural_key IS NOT NULL AND status IN ('running', 'done');

CREATE INDEX import_tasks_same_file ON import_tasks (kind, tenant, file_sha256, created_at DESC);
CREATE INDEX import_tasks_newest ON import_tasks (created_at DESC, task_id DESC);

CREATE TABLE import_task_rows (
    task_id   text NOT NULL REFERENCES import_tasks (task_id) ON DELETE CASCADE,
    row_no    integer NOT NULL CHECK (row_no >= 2),
    cells     text[] NOT NULL,
    error_zh  text NOT NULL,
    error_en  text NOT NULL,
    PRIMARY KEY (task_id, row_no)
);
