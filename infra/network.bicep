// Private networking (VNET_ENABLED=true only): the virtual network the Function App sends its
// outbound traffic into, and the private DNS zones that resolve the services' names to their
// private endpoints inside it.
//
//   snet-app                delegated to Microsoft.App/environments: Flex Consumption's VNet integration
//   snet-private-endpoints  the private endpoints of Azure OpenAI, Key Vault and storage (private-endpoint.bicep)
//
// Both subnets carry one network security group with Azure's default rules (traffic inside the
// virtual network allowed, inbound from the internet denied), so a company can add its own rules.

@description('Name of the virtual network.')
param name string

@description('Name of the network security group on both subnets.')
param securityGroupName string

@description('Region of the virtual network (the Function App\'s region).')
param location string

@description('Tags applied to the network resources.')
param tags object = {}

@description('Address space of the virtual network, a /23 or larger: its first /24 holds the app subnet, the second the private endpoints. Pick a range that does not overlap networks you peer it with.')
param addressPrefix string

@description('Private DNS zones to create and link to the virtual network (privatelink.*).')
param dnsZoneNames array

@description('Name of the subnet delegated to the Function App.')
param appSubnetName string

@description('Name of the subnet that holds the private endpoints.')
param privateEndpointSubnetName string

resource securityGroup 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: securityGroupName
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: appSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          networkSecurityGroup: {
            id: securityGroup.id
          }
          // The app's calls to public endpoints (Application Insights ingestion, Microsoft Entra ID)
          // leave through Azure's default outbound access; attach a NAT gateway for a fixed egress address.
          defaultOutboundAccess: true
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          networkSecurityGroup: {
            id: securityGroup.id
          }
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [for zone in dnsZoneNames: {
  name: zone
  location: 'global'
  tags: tags
}]

resource dnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (zone, i) in dnsZoneNames: {
  parent: dnsZones[i]
  name: vnet.name
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]
