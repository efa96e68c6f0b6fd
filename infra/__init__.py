"""CDK app for regmirror on AWS: one stack per environment, one construct per concern."""
