"""What runs in the webhooks process beside its routes and consumers: the delivery loop."""
