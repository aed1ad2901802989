"""Administrative documents: letters and reports in the layout of Decree
30/2020/NĐ-CP, described once (:mod:`server.documents.model`) and written
as PDF ready to sign or DOCX ready to edit."""
