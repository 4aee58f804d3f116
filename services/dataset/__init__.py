"""The dataset service: registers, validates, stores and serves population microdata."""
