# tfpilot:begin req_golden0001
# Managed by TfPilot: sns-topic in core/prod. Change it through TfPilot.
module "sns_topic_req_golden0001" {
  source  = "terraform-aws-modules/sns/aws"
  version = "6.2.1"

  name              = "core-prod-order-events"
  display_name      = "Order events"
  fifo_topic        = false
  kms_master_key_id = "alias/aws/sns"
  subscriptions = {
    "orders-worker" = {
      endpoint             = "arn:aws:sqs:us-east-1:123456789012:orders-worker"
      protocol             = "sqs"
      raw_message_delivery = true
    }
  }

  tags = {
    environment          = "prod"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "sns_topic_req_golden0001_arn" {
  description = "ARN of the topic"
  value       = module.sns_topic_req_golden0001.topic_arn
}

output "sns_topic_req_golden0001_name" {
  description = "Name of the topic"
  value       = module.sns_topic_req_golden0001.topic_name
}
# tfpilot:end req_golden0001
