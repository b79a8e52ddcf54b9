CREATE TABLE visit_log (
    id serial PRIMARY KEY,
    job text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
