-- How long the feed's last successful fetch took (ms, every redirect included). The fetcher
-- starts the slowest of the feeds it claims at once first, so that a round lasts as long as
-- its slowest feed rather than that plus everything queued ahead of it; people see which of
-- their feeds are slow.
ALTER TABLE feeds ADD COLUMN last_fetch_ms integer;
