export { prepareK8sTools, prepareKustomize, K8S_TOOL_VERSIONS, type K8sTools } from './tools';
export { kustomizeBuild, validateManifests, type ValidationReport } from './validate';
