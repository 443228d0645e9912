# The inputs TfPilot's dynamodb-table definition renders (the same names and shapes as
# terraform-aws-modules/dynamodb-table/aws 4.2.0 takes for them).

variable "name" {
  description = "Name of the table"
  type        = string
}

variable "hash_key" {
  description = "Partition key attribute"
  type        = string
}

variable "range_key" {
  description = "Sort key attribute"
  type        = string
  default     = null
}

variable "attributes" {
  description = "Key attributes: a list of { name, type } (S, N or B)"
  type        = list(map(string))
}

variable "billing_mode" {
  description = "PAY_PER_REQUEST or PROVISIONED"
  type        = string
  default     = "PAY_PER_REQUEST"
}

variable "read_capacity" {
  description = "Read capacity units (PROVISIONED only)"
  type        = number
  default     = null
}

variable "write_capacity" {
  description = "Write capacity units (PROVISIONED only)"
  type        = number
  default     = null
}

variable "table_class" {
  description = "STANDARD or STANDARD_INFREQUENT_ACCESS"
  type        = string
  default     = null
}

variable "point_in_time_recovery_enabled" {
  description = "Continuous backups with point-in-time recovery"
  type        = bool
  default     = false
}

variable "deletion_protection_enabled" {
  description = "Refuse to delete the table while on"
  type        = bool
  default     = null
}

variable "server_side_encryption_enabled" {
  description = "Encrypt at rest with a KMS key (an AWS-owned key otherwise)"
  type        = bool
  default     = false
}

variable "server_side_encryption_kms_key_arn" {
  description = "Customer-managed KMS key for encryption at rest"
  type        = string
  default     = null
}

variable "ttl_enabled" {
  description = "Expire items by a time-to-live attribute"
  type        = bool
  default     = false
}

variable "ttl_attribute_name" {
  description = "The time-to-live attribute"
  type        = string
  default     = ""
}

variable "stream_enabled" {
  description = "Publish item changes to a stream"
  type        = bool
  default     = false
}

variable "stream_view_type" {
  description = "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES"
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the table"
  type        = map(string)
  default     = {}
}
