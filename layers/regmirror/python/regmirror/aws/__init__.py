"""AWS adapters for the core: SQS sending, Secrets Manager credentials, event parsing, config loading.

Used by the Lambda handlers in functions/; imports nothing from functions/ or infra/. boto3 and
aws-lambda-powertools are imported lazily by the modules that need them, so the local CLI never does.
"""
