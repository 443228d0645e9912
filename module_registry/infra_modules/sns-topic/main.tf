# An SNS topic with its subscriptions, written for TfPilot's in-repo modules.

resource "aws_sns_topic" "this" {
  name                        = var.name
  display_name                = var.display_name
  fifo_topic                  = var.fifo_topic
  content_based_deduplication = var.fifo_topic ? var.content_based_deduplication : null
  kms_master_key_id           = var.kms_master_key_id
  tags                        = var.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.subscriptions

  topic_arn            = aws_sns_topic.this.arn
  protocol             = each.value.protocol
  endpoint             = each.value.endpoint
  raw_message_delivery = try(each.value.raw_message_delivery, null)
  filter_policy        = try(each.value.filter_policy, null)
}
