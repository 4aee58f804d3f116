"""The policy service: reforms in PolicyEngine's format, validated against policyengine-us."""
