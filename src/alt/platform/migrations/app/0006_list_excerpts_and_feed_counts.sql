-- The list excerpt, made from the feed content when the pre-processor stores an entry
-- (`alt.feeds.excerpt`), so that listing articles does not parse HTML on every request.
-- NULL for rows stored before this column existed (and for rows written by other means): the
-- list makes those from content_html with the same function.
ALTER TABLE articles ADD COLUMN excerpt text;
