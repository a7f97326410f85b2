-- The delivery workflow (shared/specs/business.md §6, I-01 … I-64): tenants that are vendors and
-- providers, their people, service-flow templates, products with weighted providers, projects
-- whose node runs carry working-day deadlines, the queue, and reminders.
-- Loads are never counters: a provider's load is its live projects of the product, a staff
-- member's load the live holds (`dl_holds`); assignment locks the candidates' rows first
-- (store/delivery/assign.py) so that concurrent assignments never exceed a max load.
-- depends: 0106_settlements

-- Tenants (I-01, I-02): every tenant is both a vendor and a provider. `platform` is the
-- platform's own tenant; an agent's tenant carries its agent_id.
CREATE TABLE dl_tenants (
    tenant_id  text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9_-]{1,39}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    agent_id   text UNIQUE REFERENCES agents,
    created_at timestamptz NOT NULL DEFAULT cp_now()
);
INSERT INTO dl_tenants (tenant_id, name) VALUES ('platform', 'CardPulse');

-- Vendor → provider links kept by platform operations (I-03); a vendor always delivers its own
-- products without a link.
CREATE TABLE dl_vendor_providers (
    vendor_id   text NOT NULL REFERENCES dl_tenants,
    provider_id text NOT NULL REFERENCES dl_tenants,
    created_at  timestamptz NOT NULL DEFAULT cp_now(),
    created_by  text NOT NULL,
    PRIMARY KEY (vendor_id, provider_id),
    CHECK (vendor_id <> provider_id)
);

-- Departments of a provider, a tree (I-05).
CREATE TABLE dl_departments (
    department_id text PRIMARY KEY,
    provider_id   text NOT NULL REFERENCES dl_tenants,
    parent_id     text REFERENCES dl_departments,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    created_at    timestamptz NOT NULL DEFAULT cp_now(),
    UNIQUE (provider_id, parent_id, name)
);

-- Preset business roles (I-08): maintained by the platform only.
CREATE TABLE dl_roles (
    name        text PRIMARY KEY,
    side        text NOT NULL CHECK (side IN ('vendor', 'provider')),
    description text NOT NULL DEFAULT ''
);
INSERT INTO dl_roles (name, side, description) VALUES
    ('厂商管理员', 'vendor', '厂商主账号'),
    ('项目经理', 'vendor', '厂商项目经理'),
    ('服务商管理员', 'provider', '服务商主账号'),
    ('客户经理', 'provider', '认领订单'),
    ('设计师', 'provider', ''),
    ('工程师', 'provider', ''),
    ('服务人员', 'provider', '');

-- People of the delivery roles (I-04 … I-07, I-30, X-01): vendor_admin (the tenant's main
-- account, also its provider admin: I-02), vendor_pm, provider_admin, provider_staff carry
-- their tenant; a customer has none (the buyer of a project, I-01).
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN (
    'admin', 'platform_ops', 'platform_operator', 'platform_finance',
    'enterprise_admin', 'enterprise_viewer', 'agent_admin', 'agent_viewer', 'end_user',
    'vendor_admin', 'vendor_pm', 'provider_admin', 'provider_staff', 'customer'));
ALTER TABLE users ADD COLUMN dl_tenant_id text REFERENCES dl_tenants;
ALTER TABLE users ADD COLUMN department_id text REFERENCES dl_departments;
ALTER TABLE users ADD COLUMN display_name text;
ALTER TABLE users ADD COLUMN mobile text;
ALTER TABLE users ADD COLUMN landline text;
ALTER TABLE users ADD COLUMN business_roles text[] NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN max_load int NOT NULL DEFAULT 0 CHECK (max_load BETWEEN 0 AND 50);
ALTER TABLE users ADD COLUMN accepting boolean NOT NULL DEFAULT true;
ALTER TABLE users DROP CONSTRAINT users_tenant;
ALTER TABLE users ADD CONSTRAINT users_tenant CHECK (CASE
    WHEN role IN ('admin', 'platform_ops', 'platform_operator', 'platform_finance', 'customer')
        THEN enterprise_id IS NULL AND agent_id IS NULL AND dl_tenant_id IS NULL
    WHEN role IN ('enterprise_admin', 'enterprise_viewer')
        THEN enterprise_id IS NOT NULL AND agent_id IS NULL AND dl_tenant_id IS NULL
    WHEN role IN ('vendor_admin', 'vendor_pm', 'provider_admin', 'provider_staff')
        THEN dl_tenant_id IS NOT NULL AND enterprise_id IS NULL AND agent_id IS NULL
    ELSE agent_id IS NOT NULL AND enterprise_id IS NULL AND dl_tenant_id IS NULL END);
ALTER TABLE users ADD CONSTRAINT users_department CHECK (
    department_id IS NULL OR role IN ('provider_admin', 'provider_staff'));
CREATE INDEX users_dl_tenant ON users (dl_tenant_id) WHERE dl_tenant_id IS NOT NULL;

-- Message templates "发送节点-发送对象" (I-20, X-04) and requirement forms (I-16): platform only.
CREATE TABLE dl_message_templates (
    name      text PRIMARY KEY,
    node_kind text NOT NULL,
    receiver  text NOT NULL CHECK (receiver IN ('customer', 'operator', 'provider_admin',
                                                'vendor_admin')),
    body_zh   text NOT NULL,
    body_en   text NOT NULL,
    remark    text NOT NULL DEFAULT ''
);
CREATE TABLE dl_requirement_forms (
    form_id text PRIMARY KEY,
    name    text NOT NULL UNIQUE,
    fields  jsonb NOT NULL
);

-- Service-flow templates (I-10 … I-24, SM-I-TEMPLATE). `vendor_id` NULL = a public template.
-- `nodes` is the node list of domain/delivery/nodes.py; a published row never changes (a
-- trigger refuses it), projects pin it by id and snapshot its nodes.
CREATE TABLE dl_templates (
    template_id  text PRIMARY KEY,
    vendor_id    text REFERENCES dl_tenants,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description  text NOT NULL DEFAULT '',
    status       text NOT NULL DEFAULT 'unpublished' CHECK (status IN ('unpublished',
                                                                       'published')),
    nodes        jsonb NOT NULL,
    copied_from  text REFERENCES dl_templates,
    created_at   timestamptz NOT NULL DEFAULT cp_now(),
    updated_at   timestamptz NOT NULL DEFAULT cp_now(),
    published_at timestamptz,
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);
CREATE FUNCTION dl_templates_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'template % is published and cannot change', OLD.template_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER dl_templates_frozen BEFORE UPDATE OR DELETE ON dl_templates
    FOR EACH ROW EXECUTE FUNCTION dl_templates_frozen();

-- Products that need a delivery (I-24, I-25): a service, or a card order (I-63) of a package.
CREATE TABLE dl_products (
    product_id  text PRIMARY KEY,
    product_no  text NOT NULL UNIQUE,
    vendor_id   text NOT NULL REFERENCES dl_tenants,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    version     text NOT NULL DEFAULT '',
    kind        text NOT NULL DEFAULT 'service' CHECK (kind IN ('service', 'card_order')),
    template_id text REFERENCES dl_templates,
    created_at  timestamptz NOT NULL DEFAULT cp_now()
);

-- A product's providers with weight 1–100 and max load 0–2000 (I-26, I-27).
CREATE TABLE dl_product_providers (
    product_id  text NOT NULL REFERENCES dl_products ON DELETE CASCADE,
    provider_id text NOT NULL REFERENCES dl_tenants,
    weight      int NOT NULL CHECK (weight BETWEEN 1 AND 100),
    max_load    int NOT NULL CHECK (max_load BETWEEN 0 AND 2000),
    PRIMARY KEY (product_id, provider_id)
);

-- Projects (I-38 … I-54, SM-I-PROJECT). `epoch` counts provider changes: node runs, holds and
-- log lines carry it, so the operations before a change stay viewable (I-44, I-50).
CREATE TABLE dl_projects (
    project_id        text PRIMARY KEY,
    order_no          text NOT NULL UNIQUE,
    business_no       text NOT NULL DEFAULT '',
    product_id        text NOT NULL REFERENCES dl_products,
    template_id       text NOT NULL REFERENCES dl_templates,
    nodes             jsonb NOT NULL,
    vendor_id         text NOT NULL REFERENCES dl_tenants,
    provider_id       text REFERENCES dl_tenants,
    customer_user_id  text REFERENCES users,
    customer_name     text NOT NULL,
    channel           text NOT NULL DEFAULT '',
    order_id          text,
    status            text NOT NULL DEFAULT 'in_progress' CHECK (status IN (
                          'in_progress', 'paused', 'completed', 'cancelled')),
    epoch             int NOT NULL DEFAULT 1,
    claimed_by        text REFERENCES users,
    claimed_department text REFERENCES dl_departments,
    pause_remark      text,
    evaluation        jsonb,
    created_at        timestamptz NOT NULL DEFAULT cp_now(),
    paused_at         timestamptz,
    completed_at      timestamptz,
    cancelled_at      timestamptz,
    CHECK ((status = 'paused') = (paused_at IS NOT NULL)),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX dl_projects_provider_live ON dl_projects (product_id, provider_id)
    WHERE status IN ('in_progress', 'paused');
CREATE INDEX dl_projects_created ON dl_projects (created_at);
CREATE INDEX dl_projects_vendor ON dl_projects (vendor_id, status);
CREATE INDEX dl_projects_customer ON dl_projects (customer_user_id);

-- Node runs (SM-I-NODE): one row per entry into a node. The current node of a project is its
-- one run in `active` or `queued` state. Working-day clock (I-41, I-43): `worked_s` is the
-- working time accrued before `counting_since` (NULL while the project is paused);
-- `deadline_at` is NULL without a timeout or while the calendar does not cover it
-- (`deadline_unknown`).
CREATE TABLE dl_node_runs (
    run_id           bigserial PRIMARY KEY,
    project_id       text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    epoch            int NOT NULL,
    node_key         text NOT NULL,
    kind             text NOT NULL,
    name             text NOT NULL,
    side             text NOT NULL CHECK (side IN ('system', 'provider', 'customer')),
    role             text,
    state            text NOT NULL CHECK (state IN ('active', 'queued', 'done', 'rejected',
                                                    'abandoned')),
    operator_user_id text REFERENCES users,
    entered_at       timestamptz NOT NULL,
    done_at          timestamptz,
    done_by          text,
    timeout_tenths   int NOT NULL DEFAULT 0 CHECK (timeout_tenths BETWEEN 0 AND 3650),
    worked_s         bigint NOT NULL DEFAULT 0,
    counting_since   timestamptz,
    deadline_at      timestamptz,
    deadline_unknown boolean NOT NULL DEFAULT false,
    timed_out_at     timestamptz,
    timeout_side     text CHECK (timeout_side IN ('provider', 'customer')),
    detail           jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX dl_node_runs_current ON dl_node_runs (project_id)
    WHERE state IN ('active', 'queued');
CREATE INDEX dl_node_runs_due ON dl_node_runs (deadline_at)
    WHERE state = 'active' AND timed_out_at IS NULL AND deadline_at IS NOT NULL;
CREATE INDEX dl_node_runs_project ON dl_node_runs (project_id, run_id);

-- Who holds a project for a role (I-34): assigned by an assign-order node or by a change of
-- operator; released at completion, cancellation, change of provider or of operator.
CREATE TABLE dl_holds (
    hold_id     bigserial PRIMARY KEY,
    project_id  text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    epoch       int NOT NULL,
    user_id     text NOT NULL REFERENCES users,
    role        text NOT NULL,
    node_key    text NOT NULL,
    since       timestamptz NOT NULL DEFAULT cp_now(),
    released_at timestamptz
);
CREATE UNIQUE INDEX dl_holds_live ON dl_holds (project_id, role) WHERE released_at IS NULL;
CREATE INDEX dl_holds_user_live ON dl_holds (user_id) WHERE released_at IS NULL;

-- The queue (I-35 … I-37, SM-I-QUEUE): one entry per waiting project, FIFO by queued_at.
CREATE TABLE dl_queue (
    project_id      text PRIMARY KEY REFERENCES dl_projects ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('provider', 'staff')),
    node_key        text NOT NULL,
    provider_id     text REFERENCES dl_tenants,
    reason          text NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT cp_now(),
    last_attempt_at timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX dl_queue_fifo ON dl_queue (queued_at, project_id);

-- The flow log (I-50).
CREATE TABLE dl_project_log (
    log_id     bigserial PRIMARY KEY,
    project_id text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    epoch      int NOT NULL,
    node_key   text,
    action     text NOT NULL,
    actor_id   text,
    actor_name text NOT NULL,
    actor_role text NOT NULL DEFAULT '',
    remark     text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX dl_project_log_project ON dl_project_log (project_id, log_id);

-- Submitted requirement forms (I-16), files (I-47), messages (I-48) and notes (I-49).
CREATE TABLE dl_requirements (
    project_id   text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    node_key     text NOT NULL,
    form_id      text NOT NULL REFERENCES dl_requirement_forms,
    answers      jsonb NOT NULL,
    submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT cp_now(),
    PRIMARY KEY (project_id, node_key)
);
CREATE TABLE dl_project_files (
    file_id      text PRIMARY KEY,
    project_id   text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    node_key     text,
    name         text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    sha256       text NOT NULL,
    uploaded_by  text NOT NULL REFERENCES users,
    uploader_role text NOT NULL DEFAULT '',
    uploaded_at  timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX dl_project_files_project ON dl_project_files (project_id);
CREATE TABLE dl_project_messages (
    message_id bigserial PRIMARY KEY,
    project_id text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('message', 'note')),
    author_id  text NOT NULL REFERENCES users,
    author_name text NOT NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 500),
    at         timestamptz NOT NULL DEFAULT cp_now()
);
CREATE INDEX dl_project_messages_project ON dl_project_messages (project_id, kind, message_id);

-- Reminders (I-20, I-42, X-04): one row per (node run, trigger, receiver, channel); the unique
-- key makes the timer and the node actions idempotent.
CREATE TABLE dl_notifications (
    notification_id bigserial PRIMARY KEY,
    project_id      text NOT NULL REFERENCES dl_projects ON DELETE CASCADE,
    run_id          bigint REFERENCES dl_node_runs ON DELETE CASCADE,
    trigger         text NOT NULL CHECK (trigger IN ('entered', 'rejected', 'passed',
                                                     'timed_out')),
    template_name   text NOT NULL,
    receiver        text NOT NULL,
    user_id         text REFERENCES users,
    channel         text NOT NULL CHECK (channel IN ('inbox', 'webhook')),
    body_zh         text NOT NULL,
    body_en         text NOT NULL,
    outcome         text NOT NULL DEFAULT 'recorded',
    created_at      timestamptz NOT NULL DEFAULT cp_now(),
    read_at         timestamptz,
    UNIQUE NULLS NOT DISTINCT (run_id, trigger, template_name, receiver, user_id, channel)
);
CREATE INDEX dl_notifications_user ON dl_notifications (user_id, notification_id);
