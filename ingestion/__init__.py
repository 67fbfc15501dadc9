"""The Kafka edge: contracts, producer, consumer runner, DLQ, simulator."""
