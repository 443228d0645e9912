output "repository_arn" {
  description = "ARN of the repository"
  value       = aws_ecr_repository.this.arn
}

output "repository_url" {
  description = "URL to push and pull images"
  value       = aws_ecr_repository.this.repository_url
}
