// One private endpoint (VNET_ENABLED=true only): a network interface in the private-endpoint
// subnet that reaches one sub-resource of one service (groupId: account, vault, blob, queue or
// table), and the A records that make the service's own host name resolve to it inside the
// virtual network. The service may live in another resource group or subscription (an existing
// Azure OpenAI resource); the endpoint always lives here, with the virtual network.

@description('Name of the private endpoint; its network interface is nic-<name>.')
param name string

@description('Region of the private endpoint (the virtual network\'s region).')
param location string

@description('Tags applied to the private endpoint.')
param tags object = {}

@description('Resource id of the subnet that holds the private endpoints.')
param subnetId string

@description('Resource id of the service the endpoint reaches.')
param targetId string

@description('Sub-resource of the service: account (Azure OpenAI), vault, blob, queue or table.')
param groupId string

@description('Private DNS zones (in this resource group) that get the endpoint\'s A records.')
param dnsZoneNames array

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    customNetworkInterfaceName: 'nic-${name}'
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource dnsZoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [for zone in dnsZoneNames: {
      name: replace(zone, '.', '-')
      properties: {
        privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zone)
      }
    }]
  }
}
