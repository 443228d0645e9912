# tfpilot:begin req_golden0001
# Managed by TfPilot: sqs-queue in core/prod. Change it through TfPilot.
module "sqs_queue_req_golden0001" {
  source  = "terraform-aws-modules/sqs/aws"
  version = "4.3.1"

  name                       = "core-prod-orders"
  fifo_queue                 = false
  visibility_timeout_seconds = 120
  message_retention_seconds  = 345600
  max_message_size           = 262144
  delay_seconds              = 0
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  create_dlq                 = true
  redrive_policy = {
    maxReceiveCount = 3
  }
  dlq_message_retention_seconds = 1209600

  tags = {
    environment          = "prod"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    team                 = "payments"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "sqs_queue_req_golden0001_url" {
  description = "URL of the queue"
  value       = module.sqs_queue_req_golden0001.queue_url
}

output "sqs_queue_req_golden0001_arn" {
  description = "ARN of the queue"
  value       = module.sqs_queue_req_golden0001.queue_arn
}

output "sqs_queue_req_golden0001_dlq_arn" {
  description = "ARN of the dead-letter queue"
  value       = module.sqs_queue_req_golden0001.dead_letter_queue_arn
}
# tfpilot:end req_golden0001
