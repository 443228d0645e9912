# tfpilot:begin req_golden0001
# Managed by TfPilot: rds-postgres in core/dev. Change it through TfPilot.
module "rds_postgres_req_golden0001" {
  source  = "terraform-aws-modules/rds/aws"
  version = "6.13.1"

  identifier                      = "core-dev-orders"
  engine                          = "postgres"
  engine_version                  = "16"
  family                          = "postgres16"
  major_engine_version            = "16"
  instance_class                  = "db.t4g.small"
  allocated_storage               = 20
  max_allocated_storage           = 100
  storage_type                    = "gp3"
  storage_encrypted               = true
  db_name                         = "app"
  username                        = "app_admin"
  manage_master_user_password     = true
  port                            = 5432
  multi_az                        = false
  publicly_accessible             = false
  create_db_subnet_group          = true
  subnet_ids                      = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  vpc_security_group_ids          = ["sg-0123456789abcdef0"]
  create_db_option_group          = false
  backup_retention_period         = 7
  backup_window                   = "03:00-04:00"
  maintenance_window              = "Mon:04:30-Mon:05:30"
  copy_tags_to_snapshot           = true
  deletion_protection             = false
  skip_final_snapshot             = false
  auto_minor_version_upgrade      = true
  performance_insights_enabled    = false
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]

  tags = {
    environment          = "dev"
    "managed-by"         = "tfpilot"
    project              = "core"
    requester            = "U024BE7LH"
    team                 = "payments"
    "tfpilot-request-id" = "req_golden0001"
  }
}

output "rds_postgres_req_golden0001_endpoint" {
  description = "Connection endpoint (host:port)"
  value       = module.rds_postgres_req_golden0001.db_instance_endpoint
}

output "rds_postgres_req_golden0001_arn" {
  description = "ARN of the instance"
  value       = module.rds_postgres_req_golden0001.db_instance_arn
}

output "rds_postgres_req_golden0001_master_secret_arn" {
  description = "Secrets Manager secret holding the master password"
  value       = module.rds_postgres_req_golden0001.db_instance_master_user_secret_arn
}
# tfpilot:end req_golden0001
