export { prepareK8sTools, K8S_TOOL_VERSIONS, type K8sTools } from './tools';
export { kustomizeBuild, validateManifests, type ValidationReport } from './validate';
