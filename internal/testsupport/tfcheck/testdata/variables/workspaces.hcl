# Values for the validation rules of terraform/modules/cioevents/workspaces.tf.

accept "two named workspaces with policies" {
  vars = {
    workspaces        = ["shop", "b2b-eu"]
    workspace_actions = { shop = "", "b2b-eu" = "{\"email.bounced\":[{\"identify\":{\"email_bounced\":true}}]}", other = "none" }
  }
}

accept "a policy without credentials in a dry run" {
  vars = {
    workspace_actions   = { shop = "" }
    cio_actions_dry_run = true
  }
}

refuse "an uppercase workspace name" {
  vars  = { workspaces = ["Shop"] }
  error = "workspaces must list workspace names"
}

refuse "the default workspace listed" {
  vars  = { workspaces = ["default"] }
  error = "workspaces must list workspace names"
}

refuse "a workspace listed twice" {
  vars  = { workspaces = ["shop", "shop"] }
  error = "workspaces lists a name twice"
}

refuse "a policy for a badly named workspace" {
  vars  = { workspace_actions = { "shop.eu" = "none" } }
  error = "workspace_actions keys must be workspace names"
}

refuse "a policy that is not JSON" {
  vars = {
    workspaces        = ["shop"]
    workspace_actions = { shop = "identify everyone" }
  }
  error = "workspace_actions values must be"
}

refuse "a policy for a workspace without credentials" {
  vars  = { workspace_actions = { shop = "" } }
  error = "workspace_actions gives a workspace a policy but workspaces does not list it"
}

accept "a pinned workspaces secret version" {
  vars = { workspaces_secret_version = "3" }
}

refuse "a workspaces secret version that is not a number" {
  vars  = { workspaces_secret_version = "v3" }
  error = "workspaces_secret_version must be"
}
