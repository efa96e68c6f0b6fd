"""Amazon ECR (private and public): AWS credentials, repository creation, DescribeImages listings."""
