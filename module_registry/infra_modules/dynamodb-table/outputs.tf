output "dynamodb_table_arn" {
  description = "ARN of the table"
  value       = aws_dynamodb_table.this.arn
}

output "dynamodb_table_id" {
  description = "Name (id) of the table"
  value       = aws_dynamodb_table.this.id
}

output "dynamodb_table_stream_arn" {
  description = "ARN of the table stream, when enabled"
  value       = var.stream_enabled ? aws_dynamodb_table.this.stream_arn : null
}
