-- A user's reader preferences (language, theme, mark read on scroll), as auth-service validates
-- them: every page gets them with the session's validation, at no extra query.
ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE users ADD CONSTRAINT users_preferences_check
    CHECK (jsonb_typeof(preferences) = 'object' AND octet_length(preferences::text) <= 1024);
