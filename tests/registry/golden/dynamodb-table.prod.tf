# tfpilot:begin req_golden0001
# Managed by TfPilot: dynamodb-table in core/prod. Change it through TfPilot.
module "dynamodb_table_req_golden0001" {
  source  = "terraform-aws-modules/dynamodb-table/aws"
  version = "4.4.0"

  name      = "core-prod-orders"
  hash_key  = "pk"
  range_key = "sk"
  attributes = [
    {
      name = "pk"
      type = "S"
    },
    {
      name = "sk"
      type = "S"
    },
  ]
  billing_mode                   = "PAY_PER_REQUEST"
  table_class                    = "STANDARD"
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = true
  server_side_encryption_enabled = true
  ttl_enabled                    = true
  ttl_attribute_name             = "expires_at"
  stream_enabled                 = true
  stream_view_type               = "NEW_AND_OLD_IMAGES"

  tags = {
    environment          = "prod"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    team                 = "payments"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "dynamodb_table_req_golden0001_arn" {
  description = "ARN of the table"
  value       = module.dynamodb_table_req_golden0001.dynamodb_table_arn
}

output "dynamodb_table_req_golden0001_id" {
  description = "Name (id) of the table"
  value       = module.dynamodb_table_req_golden0001.dynamodb_table_id
}

output "dynamodb_table_req_golden0001_stream_arn" {
  description = "ARN of the table stream, when enabled"
  value       = module.dynamodb_table_req_golden0001.dynamodb_table_stream_arn
}
# tfpilot:end req_golden0001
