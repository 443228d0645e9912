# The inputs TfPilot's s3-bucket definition renders (the same names and shapes as
# terraform-aws-modules/s3-bucket/aws 4.11.0 takes for them).

variable "bucket" {
  description = "Name of the bucket"
  type        = string
}

variable "force_destroy" {
  description = "Let Terraform delete the bucket while it still holds objects"
  type        = bool
  default     = false
}

variable "block_public_acls" {
  description = "Block public ACLs on the bucket and its objects"
  type        = bool
  default     = true
}

variable "block_public_policy" {
  description = "Block bucket policies that grant public access"
  type        = bool
  default     = true
}

variable "ignore_public_acls" {
  description = "Ignore public ACLs on the bucket and its objects"
  type        = bool
  default     = true
}

variable "restrict_public_buckets" {
  description = "Restrict access to the bucket when it has a public policy"
  type        = bool
  default     = true
}

variable "control_object_ownership" {
  description = "Manage the bucket's object ownership setting"
  type        = bool
  default     = true
}

variable "object_ownership" {
  description = "Object ownership: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter"
  type        = string
  default     = "BucketOwnerEnforced"
}

variable "attach_deny_insecure_transport_policy" {
  description = "Attach a bucket policy statement denying requests not made over TLS"
  type        = bool
  default     = true
}

variable "attach_require_latest_tls_policy" {
  description = "Attach a bucket policy statement denying TLS versions older than 1.2"
  type        = bool
  default     = true
}

variable "versioning" {
  description = "Versioning, as { enabled = bool }"
  type        = map(string)
  default     = {}
}

variable "server_side_encryption_configuration" {
  description = "Encryption at rest, as { rule = { apply_server_side_encryption_by_default = { sse_algorithm, kms_master_key_id }, bucket_key_enabled } }"
  type        = any
  default     = {}
}

variable "lifecycle_rule" {
  description = "Lifecycle rules: id, enabled, abort_incomplete_multipart_upload_days, expiration = { days }, noncurrent_version_expiration = { days }"
  type        = any
  default     = []
}

variable "tags" {
  description = "Tags of the bucket"
  type        = map(string)
  default     = {}
}
