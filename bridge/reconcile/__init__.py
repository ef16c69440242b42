"""The bridge's cost reconciled with Azure's bill: once a day, per UTC day (`bridge.reconcile.job`)."""
