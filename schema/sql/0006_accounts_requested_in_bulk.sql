-- Whether the latest request for an account came in bulk (`POST /accounts/batch`,
-- `import`) or alone (`POST /accounts`). The worker delivers bulk accounts through
-- multiaccount_import, as CONTRACT.md forwards batches, and single ones through
-- account_import while its share lasts (then coalesced into batches too).
ALTER TABLE accounts ADD COLUMN requested_in_bulk boolean NOT NULL DEFAULT false;
