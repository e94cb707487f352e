-- Nothing looks ledger events up by delivery (receipts find the delivery
-- row, reports and packs read events by notice or by id): the index only
-- cost every event insert on the delivery hot path.
DROP INDEX delivery_events_delivery_idx;
