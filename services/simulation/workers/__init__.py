"""What runs in the simulation processes beside their routes and consumers: the
households worker's server and batcher, and the gauges set when /metrics is scraped."""
