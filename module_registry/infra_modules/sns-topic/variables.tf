# The inputs TfPilot's sns-topic definition renders (the same names and shapes as
# terraform-aws-modules/sns/aws 6.1.0 takes for them).

variable "name" {
  description = "Name of the topic (ending in .fifo for a FIFO topic)"
  type        = string
}

variable "display_name" {
  description = "Display name of the topic"
  type        = string
  default     = null
}

variable "fifo_topic" {
  description = "Whether the topic is a FIFO topic"
  type        = bool
  default     = false
}

variable "content_based_deduplication" {
  description = "Content-based deduplication (FIFO topics only)"
  type        = bool
  default     = null
}

variable "kms_master_key_id" {
  description = "KMS key for encryption at rest"
  type        = string
  default     = null
}

variable "subscriptions" {
  description = "Subscriptions by key: { protocol, endpoint, raw_message_delivery, filter_policy }"
  type        = any
  default     = {}
}

variable "tags" {
  description = "Tags of the topic"
  type        = map(string)
  default     = {}
}
