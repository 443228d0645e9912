# The inputs TfPilot's sqs-queue definition renders (the same names and shapes as
# terraform-aws-modules/sqs/aws 4.2.0 takes for them).

variable "name" {
  description = "Name of the queue (ending in .fifo for a FIFO queue)"
  type        = string
}

variable "fifo_queue" {
  description = "Whether the queue is a FIFO queue"
  type        = bool
  default     = false
}

variable "content_based_deduplication" {
  description = "Content-based deduplication (FIFO queues only)"
  type        = bool
  default     = null
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of received messages, in seconds"
  type        = number
  default     = 30
}

variable "message_retention_seconds" {
  description = "How long messages are kept, in seconds"
  type        = number
  default     = 345600
}

variable "max_message_size" {
  description = "Largest message accepted, in bytes"
  type        = number
  default     = 262144
}

variable "delay_seconds" {
  description = "Delivery delay of new messages, in seconds"
  type        = number
  default     = 0
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait of ReceiveMessage, in seconds"
  type        = number
  default     = 0
}

variable "sqs_managed_sse_enabled" {
  description = "Encrypt with SQS-owned keys (off when kms_master_key_id is set)"
  type        = bool
  default     = true
}

variable "kms_master_key_id" {
  description = "KMS key for encryption at rest instead of SQS-owned keys"
  type        = string
  default     = null
}

variable "create_dlq" {
  description = "Create a dead-letter queue and send messages there after max receives"
  type        = bool
  default     = false
}

variable "redrive_policy" {
  description = "Redrive policy to the dead-letter queue, as { maxReceiveCount = n }"
  type        = any
  default     = {}
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps messages, in seconds"
  type        = number
  default     = null
}

variable "dlq_name" {
  description = "Name of the dead-letter queue (default: <name>-dlq)"
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags of the queues"
  type        = map(string)
  default     = {}
}
