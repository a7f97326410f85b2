-- Agents (shared/specs/business.md G1-19…G1-21) and the business roles of people (X-01,
-- AMB-56). An agent sits in one tree: `path` is the ltree of agent numbers from its top-level
-- ancestor down to itself (`12.57.103`), so "me and my downstream" is one indexed predicate
-- (`path <@ mine`) and the tree is acyclic by construction (a path is its parent's plus its own
-- number; a move refuses a new parent inside the moved subtree). Numbers, not ids, label the
-- path because ltree labels allow no '.', which agent ids may contain.
-- depends: 0021_audit

CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- G1-01: the two business lines every package, order, rule and report carries.
CREATE TABLE business_lines (
    business_line text PRIMARY KEY,
    name_zh       text NOT NULL,
    name_en       text NOT NULL
);
INSERT INTO business_lines VALUES ('traffic_card', '流量卡', 'traffic card'),
                                  ('number_card', '号卡', 'number card');

CREATE SEQUENCE agent_numbers;
CREATE TABLE agents (
    agent_id       text PRIMARY KEY CHECK (agent_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    agent_no       bigint NOT NULL UNIQUE DEFAULT nextval('agent_numbers'),
    name           text NOT NULL CHECK (char_length(btrim(name)) BETWEEN 1 AND 100),
    parent_id      text REFERENCES agents,
    path           ltree NOT NULL,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    business_lines text[] NOT NULL CHECK (cardinality(business_lines) >= 1
        AND business_lines <@ ARRAY['traffic_card', 'number_card']),
    created_at     timestamptz NOT NULL DEFAULT cp_now(),
    updated_at     timestamptz NOT NULL DEFAULT cp_now(),
    -- a path ends in the agent's own number; a top-level agent's path is that number alone
    CONSTRAINT agents_path_self CHECK (subpath(path, nlevel(path) - 1)::text = agent_no::text),
    CONSTRAINT agents_path_depth CHECK ((parent_id IS NULL) = (nlevel(path) = 1))
);
CREATE INDEX agents_path ON agents USING gist (path);
CREATE INDEX agents_parent ON agents (parent_id);

-- People of the business roles: platform staff have no tenant, enterprise people one
-- enterprise, agents' people (and end users, who buy through an agent) one agent.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN (
    'admin', 'platform_ops', 'platform_operator', 'platform_finance',
    'enterprise_admin', 'enterprise_viewer', 'agent_admin', 'agent_viewer', 'end_user'));
ALTER TABLE users ADD COLUMN agent_id text REFERENCES agents;
ALTER TABLE users DROP CONSTRAINT users_tenant;
ALTER TABLE users ADD CONSTRAINT users_tenant CHECK (CASE
    WHEN role IN ('admin', 'platform_ops', 'platform_operator', 'platform_finance')
        THEN enterprise_id IS NULL AND agent_id IS NULL
    WHEN role IN ('enterprise_admin', 'enterprise_viewer')
        THEN enterprise_id IS NOT NULL AND agent_id IS NULL
    ELSE agent_id IS NOT NULL AND enterprise_id IS NULL END);
CREATE INDEX users_agent ON users (agent_id);
