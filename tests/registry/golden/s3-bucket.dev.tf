# tfpilot:begin req_golden0001
# Managed by TfPilot: s3-bucket in core/dev. Change it through TfPilot.
module "s3_bucket_req_golden0001" {
  source  = "terraform-aws-modules/s3-bucket/aws"
  version = "4.11.0"

  bucket                                = "core-dev-assets"
  force_destroy                         = false
  block_public_acls                     = true
  block_public_policy                   = true
  ignore_public_acls                    = true
  restrict_public_buckets               = true
  control_object_ownership              = true
  object_ownership                      = "BucketOwnerEnforced"
  attach_deny_insecure_transport_policy = true
  attach_require_latest_tls_policy      = true
  versioning = {
    enabled = true
  }
  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = {
        sse_algorithm = "aws:kms"
      }
      bucket_key_enabled = true
    }
  }
  lifecycle_rule = [
    {
      id                                     = "tfpilot-default"
      enabled                                = true
      abort_incomplete_multipart_upload_days = 7
      noncurrent_version_expiration = {
        days = 90
      }
      expiration = {
        days = 365
      }
    },
  ]

  tags = {
    "cost-center"        = "cc-1234"
    environment          = "dev"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    team                 = "platform"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "s3_bucket_req_golden0001_bucket" {
  description = "Name of the bucket"
  value       = module.s3_bucket_req_golden0001.s3_bucket_id
}

output "s3_bucket_req_golden0001_arn" {
  description = "ARN of the bucket"
  value       = module.s3_bucket_req_golden0001.s3_bucket_arn
}

output "s3_bucket_req_golden0001_regional_domain_name" {
  description = "Regional domain name of the bucket"
  value       = module.s3_bucket_req_golden0001.s3_bucket_bucket_regional_domain_name
}
# tfpilot:end req_golden0001
