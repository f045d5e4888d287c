"""streammon's Kafka side: the Faust app, topics, codecs, the broker launcher and the CLI."""
