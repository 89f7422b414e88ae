-- What the feed's last successful parse had to repair or skip (characters that are not
-- characters, malformed XML read as far as it goes, entries without content), one warning a
-- line: the feed still works, but its publisher (and whoever reads it) can see why an entry
-- looks odd. NULL when the last parse had nothing to say.
ALTER TABLE feeds ADD COLUMN last_warnings text;
ALTER TABLE feeds ADD CONSTRAINT feeds_last_warnings_check CHECK (char_length(last_warnings) <= 2000);
