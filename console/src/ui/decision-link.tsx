import { decisionPage } from '../decision-page.js';

export const DecisionLink = ({ id }: { id: string }) => <a class="mono" href={decisionPage(id)}>{id}</a>;
