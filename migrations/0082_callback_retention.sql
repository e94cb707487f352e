-- Delivered status callbacks are kept CallbackRetention (30 days) for
-- support, then purged by the dispatcher; failed ones stay until removed.
CREATE INDEX IF NOT EXISTS callback_events_delivered_idx ON callback_events (delivered_at) WHERE state = 'delivered';
