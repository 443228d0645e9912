# The inputs TfPilot's iam-role definition renders (the same names and shapes as
# terraform-aws-modules/iam/aws//modules/iam-assumable-role 5.48.0 takes for them).

variable "create_role" {
  description = "Whether to create the role"
  type        = bool
  default     = true
}

variable "role_name" {
  description = "Name of the role"
  type        = string
}

variable "role_description" {
  description = "Description of the role"
  type        = string
  default     = ""
}

variable "role_path" {
  description = "Path of the role"
  type        = string
  default     = "/"
}

variable "max_session_duration" {
  description = "Longest session, in seconds"
  type        = number
  default     = 3600
}

variable "trusted_role_services" {
  description = "AWS services that may assume the role"
  type        = list(string)
  default     = []
}

variable "trusted_role_arns" {
  description = "Principals (ARNs) that may assume the role"
  type        = list(string)
  default     = []
}

variable "role_requires_mfa" {
  description = "Whether the trusted principals must have signed in with MFA"
  type        = bool
  default     = true
}

variable "custom_role_policy_arns" {
  description = "Managed policies attached to the role"
  type        = list(string)
  default     = []
}

variable "role_permissions_boundary_arn" {
  description = "Permissions boundary of the role"
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags of the role"
  type        = map(string)
  default     = {}
}
