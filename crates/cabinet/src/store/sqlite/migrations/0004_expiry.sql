-- What the janitor looks for: files still waiting for content, and upload sessions by expiry.
CREATE INDEX files_awaiting_content ON files (created_time) WHERE uploaded_time IS NULL;
CREATE INDEX upload_sessions_by_expiry ON upload_sessions (expires_time);
