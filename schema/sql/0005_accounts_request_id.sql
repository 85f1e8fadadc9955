-- `import` follows its own rows by the run's request id (progress, the final
-- summary, a resumed run), without holding every user_id of the file in memory.
CREATE INDEX accounts_request_id ON accounts (request_id);
