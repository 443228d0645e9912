# An SQS queue with an optional dead-letter queue, written for TfPilot's in-repo modules.

locals {
  stem     = trimsuffix(var.name, ".fifo")
  dlq_stem = var.dlq_name != null ? trimsuffix(var.dlq_name, ".fifo") : "${local.stem}-dlq"
  dlq_name = var.fifo_queue ? "${local.dlq_stem}.fifo" : local.dlq_stem
  sse      = var.kms_master_key_id == null ? var.sqs_managed_sse_enabled : null
}

resource "aws_sqs_queue" "dlq" {
  count = var.create_dlq ? 1 : 0

  name                        = local.dlq_name
  fifo_queue                  = var.fifo_queue
  content_based_deduplication = var.fifo_queue ? var.content_based_deduplication : null
  message_retention_seconds   = coalesce(var.dlq_message_retention_seconds, var.message_retention_seconds)
  sqs_managed_sse_enabled     = local.sse
  kms_master_key_id           = var.kms_master_key_id
  tags                        = var.tags
}

resource "aws_sqs_queue" "this" {
  name                        = var.name
  fifo_queue                  = var.fifo_queue
  content_based_deduplication = var.fifo_queue ? var.content_based_deduplication : null
  visibility_timeout_seconds  = var.visibility_timeout_seconds
  message_retention_seconds   = var.message_retention_seconds
  max_message_size            = var.max_message_size
  delay_seconds               = var.delay_seconds
  receive_wait_time_seconds   = var.receive_wait_time_seconds
  sqs_managed_sse_enabled     = local.sse
  kms_master_key_id           = var.kms_master_key_id
  tags                        = var.tags
}

# The redrive policy is its own resource (as the registry module does): the queue exists before
# it points at the dead-letter queue, and the policy's JSON is written once, by jsonencode.
resource "aws_sqs_queue_redrive_policy" "this" {
  count = var.create_dlq ? 1 : 0

  queue_url = aws_sqs_queue.this.url
  redrive_policy = jsonencode(merge(
    { maxReceiveCount = 5 },
    var.redrive_policy,
    { deadLetterTargetArn = aws_sqs_queue.dlq[0].arn },
  ))
}

# Only this queue may use the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.create_dlq ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].url
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}
