# A mocked `terraform test` of the root: the module call with every variable
# passed through and the outputs, with real provider schemas and no API call
# (the backend is not used). CI has no provider and does not run it; see
# terraform/modules/cioevents/tests/mocked.tftest.hcl for how to run it.

# Computed values the provider validates where they are used: a mock's
# random string is no IAM member or service account name.
mock_provider "google" {
  mock_resource "google_service_account" {
    defaults = {
      email  = "mock-account@my-project-id.iam.gserviceaccount.com"
      member = "serviceAccount:mock-account@my-project-id.iam.gserviceaccount.com"
      id     = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
      name   = "projects/my-project-id/serviceAccounts/mock-account@my-project-id.iam.gserviceaccount.com"
    }
  }
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
}
mock_provider "google-beta" {}
mock_provider "archive" {}

variables {
  project_id = "my-project-id"
}

run "defaults" {
  command = apply

  assert {
    condition     = output.signing_keys_secret == "cioevents-webhook-signing-keys"
    error_message = "the root passes the module's outputs through"
  }
  assert {
    condition     = output.track_workspaces_secret == null
    error_message = "no named workspaces, no workspace secret"
  }
}

run "name_prefix_passed_through" {
  command = plan

  variables {
    name_prefix = "cio-staging"
    workspaces  = ["shop"]
  }

  assert {
    condition     = output.signing_keys_secret == "cio-staging-webhook-signing-keys"
    error_message = "the root passes name_prefix to the module"
  }
}
