"""One client per operator dialect (OneLink, Jasper/Unicom, China Telecom) behind one small
interface (`base.OperatorClient`); they speak only the wire format."""
