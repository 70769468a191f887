-- The send job notes each attempt on its message before it calls the
-- provider, so a retry knows an earlier attempt may have reached it and
-- waits for that attempt's status webhook instead of sending again.
ALTER TABLE messages ADD COLUMN send_attempt TEXT;
ALTER TABLE messages ADD COLUMN send_started_at BIGINT;
